from funding_finder.cli import main

main()
