"""Search strategies: how candidates are proposed and updated."""
