# A server uses port, port+1 and port+2.
site "lab" {
  server "a" {
    address = "127.0.0.1"
    storage "main" {
      path = "/rec/a"
    }
  }
  server "b" {
    address = "127.0.0.1"
    port    = 53542
    storage "main" {
      path = "/rec/b"
    }
  }
  server "c" {
    address = "127.0.0.1"
    port    = 53545
    storage "main" {
      path = "/rec/c"
    }
  }
}

site "lab2" {
  server "d" {
    address = "127.0.0.1"
    port    = 53546
    storage "main" {
      path = "/rec/d"
    }
  }
  server "e" {
    address = "127.0.0.2"
    port    = 65534
    storage "main" {
      path = "/rec/e"
    }
  }
}
