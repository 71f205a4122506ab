"""Shared test helpers: servers the tests start on 127.0.0.1, CLI and app runners, data builders."""
