"""Freddie Mac Single-Family Loan-Level data: layouts, synthetic generator, real-file discovery."""
