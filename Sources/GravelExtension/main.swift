print("gravel-extension: not built yet")
