"""CrossGuard policy pack for the mlops-iac platform."""
