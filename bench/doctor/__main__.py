from bench.doctor.run import main

raise SystemExit(main())
