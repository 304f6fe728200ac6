"""The endpoint of the embedded profile: the local model server process and the deploy of the
classify Lambda and REST API in front of it (SageMaker endpoint + Lambda + API Gateway on AWS)."""
