module example.com/broken-go

go 1.22
