"""Test doubles that stand in for the outside world (exchanges), served from this machine only."""
