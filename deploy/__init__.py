"""Promotion of the pipelines to a cloud: ``aws/`` holds the CloudFormation stacks and ``bdml deploy aws``."""
