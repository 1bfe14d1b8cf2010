"""The Resource Explorer dialect: KCRN and filter_string search over the shared inventory."""
