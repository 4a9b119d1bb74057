site "hq" {
  server "srv-1" {
    address = "10.0.0.1"
  }
}
