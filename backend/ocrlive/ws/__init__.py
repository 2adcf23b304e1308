"""The live side: WebSocket connections, topics, commands and recovery."""
