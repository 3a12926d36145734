"""CrossGuard policy pack for the mlops-iac platform (see DESIGN.md section 7)."""
