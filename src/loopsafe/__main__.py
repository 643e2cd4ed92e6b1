from loopsafe.cli import main

raise SystemExit(main())
