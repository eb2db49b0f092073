"""Autograder for the recurrent-networks homework (see README.md)."""
