"""NEWS2 early-warning scoring of vital signs, and the tools that apply it."""
