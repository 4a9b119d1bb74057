site "hq" {
  server "srv-1" {
    address = "10.0.0.1"
    storage "a" {
      path     = "/rec/a"
      max_size = "2 TB"
      min_free = "5 %"
    }
    storage "b" {
      path     = "/rec/b"
      max_size = "2TiB"
      min_free = "120%"
      max_age  = "30m"
    }
    storage "c" {
      path     = "/rec/c"
      max_size = "12XB"
      min_free = "ten"
    }
    storage "d" {
      max_size = 1000
    }
  }
}
