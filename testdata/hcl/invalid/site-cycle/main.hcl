site "a" {
  parent = "c"
}

site "b" {
  parent = "a"
}

site "c" {
  parent = "b"
}

site "d" {
  parent = "d"
}

site "e" {
  parent = "a"
}
