"""Placement matching: requests, ranking by the priority order, flags, stored decisions,
declines, choices, the direct-procurement review queue and replay.

    request.py    the request model (no identity numbers or names), validation, JSON Schema
    matcher.py    ranking the rules' evaluation into a decision document
    decisions.py  stored requests and decisions (match_request), declines, the handler's choice, explain
    review.py     the direct-procurement review queue
    replay.py     re-deciding stored requests with other rules, listing differences
"""
