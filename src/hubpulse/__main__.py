from hubpulse.cli import main

main()
