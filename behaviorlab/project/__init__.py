"""Projects: configuration, the resumable runner, its cache, the project view and the demo."""
