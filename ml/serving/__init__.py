"""Serving: the SageMaker inference handler and the local model server (ONNX Runtime; no torch)."""
