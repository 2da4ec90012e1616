from cligym.cli.app import main

main()
