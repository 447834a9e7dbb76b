package main

func handleMain(args []string) int { return 1 }
