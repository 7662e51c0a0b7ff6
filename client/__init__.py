"""Clients of the matting service: single images and folders, and video."""
