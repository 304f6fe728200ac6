"""Dataset assembly: real labelled images from what package registries ship, with a manifest."""
