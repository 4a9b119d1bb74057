locals {
  description = "Two sites in two files"
}

site "branch" {
  parent = "hq"

  server "b-1" {
    address = "10.1.0.1"
    storage "main" {
      path = "/rec"
    }
  }
  server "b-2" {
    address = "10.1.0.2"
    kind    = "witness"
  }
}
