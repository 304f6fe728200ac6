"""ML pipeline: penguin / not-penguin images → SageMaker-contract training → endpoint → Lambda → web app."""
