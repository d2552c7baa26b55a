"""Server-rendered pages and their JSON twins (Vietnamese first, English beside it).

Blueprints are registered by ``api.create_app``; they use the services it holds.
"""
