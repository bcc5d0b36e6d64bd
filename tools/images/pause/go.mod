module tether.local/tools/images/pause

go 1.26.0
