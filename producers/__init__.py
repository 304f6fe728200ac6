"""Data sources: Freddie Mac files (real downloads or synthetic), the S3 uploader, stream producers."""
