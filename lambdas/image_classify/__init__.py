"""Image-classify proxy Lambda (API Gateway REST → SageMaker runtime). Deployable alone: handler.py."""
