"""Task modules: each file defines one or more tasks and registers them with `@register_task`."""
