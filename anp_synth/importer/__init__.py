"""Import: push posts into a target idempotently, with a ledger; resume, verify, roll back."""
