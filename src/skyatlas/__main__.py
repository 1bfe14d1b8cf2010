from skyatlas.cli.entry import main

main()
