"""Types, errors and settings shared by every layer of odczyt. Imports no other project package."""
