from ocrlive.cli import main

raise SystemExit(main())
