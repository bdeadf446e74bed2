"""delays"""
