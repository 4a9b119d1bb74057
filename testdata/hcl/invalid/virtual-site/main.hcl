site "region" {
  virtual = true

  server "directory" {
    kind = "virtual"
  }
  server "rec-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
  }
}
