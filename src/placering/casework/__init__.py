"""Case work around the register (issue 12): placement agreements, complaint cases, deepened
controls, follow-ups and the direct-procurement economics.

Library functions take the caller's session (its transaction), change the register only
through `register.service` (one path for status changes), and record every write in the
append-only history. The CLI (`cli/casework.py`) parses, calls these and formats.
"""
