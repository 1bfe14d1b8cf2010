from skyatlas.cli.main import main

main()
