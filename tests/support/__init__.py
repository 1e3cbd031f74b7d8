"""Helpers the tests share: fakes, real processes started for a test, builders."""
