"""Model definitions for training (torch). The serving side never imports this package."""
