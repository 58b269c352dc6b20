package main

import "fmt"

func main() {
	fmt.Println("this does not compile" + 1)
	undefinedFunction()
}
