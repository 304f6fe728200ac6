"""Prepare: augmentation, class balancing, grouped split, SageMaker .lst files and S3 channels."""
