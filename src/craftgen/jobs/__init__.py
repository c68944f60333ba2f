"""Jobs: states, the queue interface and its backends, the service the API calls, the worker loop."""
