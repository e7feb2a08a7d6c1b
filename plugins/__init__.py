"""Built-in collectors, each registered through the `evidentia` entry-point group like any plugin."""
