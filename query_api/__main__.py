from query_api.cli import main

main()
