module example.com/poisoner

go 1.22
