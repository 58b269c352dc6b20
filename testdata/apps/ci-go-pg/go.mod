module example.test/cigopg

go 1.22
